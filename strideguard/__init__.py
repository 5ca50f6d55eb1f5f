"""StrideGuard: a streaming running-gait monitor (sensors, analytics, stream).

The code lives in the repository's top-level folders `sensors/`, `analytics/` and `stream/`; this package
claims only the `strideguard` name in site-packages and imports them as `strideguard.sensors`,
`strideguard.analytics` and `strideguard.stream` (in a checkout through symbolic links, in a wheel as
copies).
"""
