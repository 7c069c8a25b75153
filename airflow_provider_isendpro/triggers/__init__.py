"""Triggers of the iSendPro provider, run by the Airflow triggerer (e.g. ``triggers.credit``)."""
