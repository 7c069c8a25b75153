"""Sensors of the iSendPro provider (import them from their modules, e.g. ``sensors.credit``)."""
