"""OpenStackClient plugin for sharebackup's own API (`openstack share backup policy ...`).

The service serves Manila's API at <root>/v2 and its own at <root>/sharebackup/v1 on the same
server, so the endpoint is derived from Manila's, found as python-manilaclient finds it: the
catalog's `sharev2` (or `shared-file-system`) entry for the CLI's interface and region, or the
endpoint the user gave (`--os-endpoint` with token auth, manilaclient's `--os-endpoint-override`).
`--os-sharebackup-endpoint` (env OS_SHAREBACKUP_ENDPOINT) names ours directly.
"""
from __future__ import annotations

import logging
import re

from keystoneauth1 import exceptions as ksa_exceptions
from osc_lib import exceptions
from osc_lib import utils

from sharebackup.osc.client import Client

LOG = logging.getLogger(__name__)

API_NAME = "sharebackup"
API_VERSION_OPTION = "os_sharebackup_api_version"
DEFAULT_API_VERSION = "1"
API_VERSIONS = {"1": "sharebackup.osc.client.Client"}

API_PATH = "/sharebackup/v1"
MANILA_SERVICE_TYPES = ("sharev2", "shared-file-system")
# ".../v2" or ".../v2/<project_id>" (with or without a trailing slash) at the end of Manila's URL
_MANILA_VERSION_TAIL = re.compile(r"/v2(?:\.\d+)?(?:/[^/]+)?/*$")


def sharebackup_endpoint(manila_url: str) -> str:
    """http://h:8786/v2 and http://h:8786/v2/<project_id> -> http://h:8786/sharebackup/v1."""
    root = _MANILA_VERSION_TAIL.sub("", manila_url.strip())
    return root.rstrip("/") + API_PATH


def _option(instance, name: str):
    options = instance._cli_options
    value = getattr(options, name, None)
    if value is None and isinstance(getattr(options, "config", None), dict):
        value = options.config.get(name.removeprefix("os_"))
    return value or None


def _given_manila_endpoint(instance) -> str | None:
    """An endpoint the user named: manilaclient's override, or the token auth's --os-endpoint."""
    override = _option(instance, "os_endpoint_override")
    if override:
        return override
    auth = getattr(instance._cli_options, "auth", None)
    return (auth or {}).get("endpoint") if isinstance(auth, dict) else None


def manila_endpoint(instance) -> str:
    """Manila's endpoint, as manilaclient's plugin finds it."""
    given = _given_manila_endpoint(instance)
    if given:
        return given
    for service_type in MANILA_SERVICE_TYPES:
        try:
            url = instance.get_endpoint_for_service_type(service_type, region_name=instance.region_name,
                                                         interface=instance.interface)
        except ksa_exceptions.EndpointNotFound:
            url = None
        if url:
            return url
    raise exceptions.CommandError(
        "Could not find the shared file system (sharev2) endpoint in the service catalog; "
        "give --os-sharebackup-endpoint (env OS_SHAREBACKUP_ENDPOINT).")


def lazy_manila_endpoint(instance):
    """A callable giving Manila's endpoint, looked up only when a name has to be resolved."""
    return lambda: manila_endpoint(instance)


def make_client(instance) -> Client:
    """The sharebackup client on the CLI's authenticated keystoneauth session."""
    instance.setup_auth()
    explicit = _option(instance, "os_sharebackup_endpoint")
    endpoint = explicit.rstrip("/") if explicit else sharebackup_endpoint(manila_endpoint(instance))
    LOG.debug("sharebackup API endpoint: %s", endpoint)
    return Client(instance.session, endpoint)


def build_option_parser(parser):
    """The plugin's global options."""
    parser.add_argument(
        "--os-sharebackup-api-version",
        metavar="<sharebackup-api-version>",
        default=utils.env("OS_SHAREBACKUP_API_VERSION", default=DEFAULT_API_VERSION),
        help=f"sharebackup API version, default={DEFAULT_API_VERSION} (Env: OS_SHAREBACKUP_API_VERSION)",
    )
    parser.add_argument(
        "--os-sharebackup-endpoint",
        metavar="<sharebackup-endpoint>",
        default=utils.env("OS_SHAREBACKUP_ENDPOINT"),
        help="The sharebackup API (e.g. http://host:8786/sharebackup/v1) instead of the one derived "
             "from the shared file system endpoint (Env: OS_SHAREBACKUP_ENDPOINT)",
    )
    return parser
