"""Kafka plumbing: the embedded broker, clients and the topic declaration."""
