"""Voices: the knob space (all knob math), voices from a microphone take, saved voices and render recipes."""
