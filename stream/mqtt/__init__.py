"""MQTT transport: topic schema and keyed partitions (`topics`), wire formats (`payload`), a supervised
connection with persistent sessions (`connection`) and the MQTT output sink (`sink`)."""
