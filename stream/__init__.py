"""The asyncio shell and composition root: route results to the terminal, web, MQTT, SQLite, InfluxDB
and alert channels. The only package that imports both `sensors` and `analytics`."""
