"""Sound devices and sound files: output and input streams (sounddevice), the WAV writer, the FSDD recordings."""
