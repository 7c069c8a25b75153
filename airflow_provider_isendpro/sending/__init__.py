"""The send engine behind ``SendSmsOperator``: planning, batching, the send ledger and the accounting.

Free of Airflow except where a ledger lives in Airflow object storage (imported on use).
"""
