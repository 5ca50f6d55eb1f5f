"""Sans-I/O decoders: bytes in, typed events or arrays out, every read bounds-checked.

pmd_control  Polar PMD control point: build requests, parse responses, settings, unsolicited stop
pmd_data     Polar PMD data frames: raw and delta-compressed ACC/GYRO counts, unit conversion
pmd_time     per-sample PMD timestamps and the device -> host clock mapper (drift tracking)
hrm          Heart Rate Measurement 0x2A37        rsc    Running Speed and Cadence 0x2A53
movesense    Movesense GATT SensorData protocol   alert_level  Alert Level 0x2A06 writes
uuids        the GATT UUIDs
strideguard_imu  StrideGuard's own binary IMU payload (a sample batch on MQTT): encoder and decoder

Each module raises only `sensors.errors.DecodeError` for bad input; `sensors.decoding` turns these into
stream decoders.
"""
