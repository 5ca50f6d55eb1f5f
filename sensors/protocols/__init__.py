"""Sans-I/O decoders: bytes in, typed events or arrays out, every read bounds-checked."""
