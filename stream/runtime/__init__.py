"""Composition: the session engine and the runtimes around it (embedded pipeline, MQTT worker and
collector), sources and pacing, backpressure, the in-process bus, settings, and the wiring of a run."""
