"""Adapters: one small class per outside system, with the few methods the core needs."""
