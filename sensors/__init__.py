"""Where samples come from: BLE devices, capture files, imports and the synthetic runner.

Decoders and readers here are pure; the only I/O is in `sensors.ble` (bleak) and the capture file
reader/writer. `sensors` never imports `analytics` or `stream`.
"""
