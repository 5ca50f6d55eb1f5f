"""InfluxDB output: line protocol (`lineproto`), v1 and v2 writers (`writers`), a durable spool
(`spool`) and the pipeline sink that ties them together (`sink`)."""

from strideguard.stream.influx.sink import InfluxSink
from strideguard.stream.influx.writers import RejectedWriteError, RetryableWriteError, V1Writer, V2Writer

__all__ = ["InfluxSink", "RejectedWriteError", "RetryableWriteError", "V1Writer", "V2Writer"]
