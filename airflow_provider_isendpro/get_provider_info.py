"""Provider metadata read by every Airflow component at start-up.

Kept free of imports: the scheduler, API server, DAG processor, triggerer and workers all call it, and
Airflow 3.3's API server builds the connection form from it alone (it does not import the hook).
"""

from __future__ import annotations

from typing import Any

DEFAULT_BASE_URL = "https://apirest.isendpro.com/cgi-bin"


def get_provider_info() -> dict[str, Any]:
    return {
        # Must equal the canonical distribution name, or discovery fails for every provider.
        "package-name": "airflow-provider-isendpro",
        "name": "iSendPro",
        # Plain text: ``airflow providers list`` prints it as is (a Markdown link would show its syntax).
        "description": "Send SMS, qualify numbers (HLR), watch credit and alert by SMS with iSendPro "
        "(https://www.isendpro.com/).",
        "integrations": [
            {
                "integration-name": "iSendPro",
                "external-doc-url": "https://www.isendpro.com/docs/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "iSendPro",
                "python-modules": ["airflow_provider_isendpro.hooks.isendpro"],
            }
        ],
        "operators": [
            {
                "integration-name": "iSendPro",
                "python-modules": [
                    "airflow_provider_isendpro.operators.sms",
                    "airflow_provider_isendpro.operators.hlr",
                    "airflow_provider_isendpro.operators.reports",
                    "airflow_provider_isendpro.operators.blacklist",
                    "airflow_provider_isendpro.operators.alert_digest",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "iSendPro",
                "python-modules": [
                    "airflow_provider_isendpro.sensors.credit",
                    "airflow_provider_isendpro.sensors.delivery",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "iSendPro",
                "python-modules": [
                    "airflow_provider_isendpro.triggers.credit",
                    "airflow_provider_isendpro.triggers.delivery",
                ],
            }
        ],
        "notifications": ["airflow_provider_isendpro.notifications.sms.IsendproNotifier"],
        # Mounts the delivery-receipt receiver on the API server at /isendpro (docs/receipts.md).
        "plugins": [
            {
                "name": "isendpro_receipts",
                "plugin-class": "airflow_provider_isendpro.receipts.plugin.IsendproReceiptsPlugin",
            }
        ],
        "config": {
            "isendpro": {
                "description": "iSendPro provider settings.",
                "options": {
                    "ledger_path": {
                        "description": "Folder or object-storage URL of the send ledger, the record that "
                        "keeps task retries from texting anyone twice. Every worker must reach it: use "
                        "shared storage (s3://, gs://, a shared volume) with Celery or Kubernetes "
                        "executors. Empty: $AIRFLOW_HOME/isendpro/ledger (single machine only).\n",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://my-bucket/isendpro-ledger",
                        "default": "",
                    },
                    "ledger_conn_id": {
                        "description": "Airflow connection whose credentials reach an object-storage "
                        "ledger_path (e.g. aws_default). Empty: the storage library's default chain "
                        "(for S3, boto3's environment variables, instance profile or web identity).\n",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "aws_default",
                        "default": "",
                    },
                    "ledger_is_shared": {
                        "description": "True when a local-looking ledger_path is a volume shared by "
                        "every worker (NFS, EFS) that honours flock. Without it, a local ledger is refused "
                        "under a remote executor (Celery, Kubernetes, Edge...).\n",
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "True",
                        "default": "False",
                    },
                    "dlr_secret": {
                        "description": "Secret part of the delivery-report URL set in iSendPro's customer "
                        "area (https://<api-server>/isendpro/dlr/<secret>): 16 to 256 characters from A-Z, "
                        "a-z, 0-9 and . _ ~ -. Empty: the receiver refuses every callback and the delivery "
                        "sensor polls the /campagne report instead.\n",
                        "version_added": "0.1.0",
                        "type": "string",
                        "sensitive": True,
                        "example": '(python -c "import secrets; print(secrets.token_urlsafe(32))")',
                        "default": "",
                    },
                    "dlr_allowed_networks": {
                        "description": "Comma-separated addresses or CIDRs allowed to call the receiver. "
                        "Behind a reverse proxy the caller is the proxy unless the API server runs with "
                        "--proxy-headers and trusts it. Empty: any address (the secret still applies).\n",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "203.0.113.0/24, 2001:db8::/32",
                        "default": "",
                    },
                    "dlr_method": {
                        "description": "HTTP method of iSendPro's callbacks: GET, POST (form body) or ANY. "
                        "Other methods get 405.\n",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "ANY",
                        "default": "GET",
                    },
                    "dlr_number_param": {
                        "description": "Callback parameter holding the phone number.\n",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "tel",
                        "default": "tel",
                    },
                    "dlr_status_param": {
                        "description": "Callback parameter holding iSendPro's delivery status code.\n",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "statut",
                        "default": "statut",
                    },
                    "dlr_tracker_param": {
                        "description": "Callback parameter holding the tracker the SMS was sent with.\n",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "tracker",
                        "default": "tracker",
                    },
                    "dlr_statuses": {
                        "description": "Mapping of iSendPro status codes to delivered, failed, expired or "
                        "pending (statut:status, comma-separated). Only 0 = delivered is attested; check "
                        "the others against your account's reports. A code not listed is kept raw with "
                        "the final status unknown.\n",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "0:delivered,1:failed,2:expired,3:pending",
                        "default": "0:delivered,1:failed,2:expired",
                    },
                },
            }
        },
        "connection-types": [
            {
                "connection-type": "isendpro",
                "hook-class-name": "airflow_provider_isendpro.hooks.isendpro.IsendproHook",
                "hook-name": "iSendPro SMS",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "API base URL", "password": "API key (keyid)"},
                    "placeholders": {
                        "host": DEFAULT_BASE_URL,
                        "password": "Mon compte → Mon API → keyid",
                    },
                },
                "conn-fields": {
                    "sender": {
                        "label": "Default sender (emetteur)",
                        "description": "4 to 11 characters from A-Z, 0-9 and space, not only digits. "
                        "Empty: iSendPro's default short code.",
                        "schema": {"type": ["string", "null"], "maxLength": 11},
                    },
                    "connect_timeout": {
                        "label": "Connect timeout (s)",
                        "description": "Seconds to wait for the TCP/TLS connection to open.",
                        "schema": {"type": ["number", "null"], "default": 5, "minimum": 0.1},
                    },
                    "read_timeout": {
                        "label": "Read timeout (s)",
                        "description": "Seconds to wait for iSendPro's answer once the request is sent.",
                        "schema": {"type": ["number", "null"], "default": 30, "minimum": 0.1},
                    },
                    "sandbox": {
                        "label": "Sandbox mode",
                        "description": "Send iSendPro's undocumented sandbox flag on SMS sends "
                        "(test mode, not billed).",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                },
            }
        ],
    }
