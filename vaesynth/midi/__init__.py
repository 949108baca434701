"""MIDI: messages -> immutable commands, ports as they come and go, the headless player (no Qt)."""
