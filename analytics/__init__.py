"""Pure, synchronous, streaming gait analytics: no asyncio, no network, no files.

Push a `SampleBatch`, get back steps, window metrics and risk events. Results never depend on how the
input was chunked. Imports nothing from `stream`, and from `sensors` only the shared sample types.
"""
