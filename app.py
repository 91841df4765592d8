"""starmon's dashboard: `streamlit run app.py`.

This file only launches. Streamlit runs `starmon/ui/main.py` for every browser session;
the lifespan below starts the background Service (demo cluster and collector) once per
server process and stops it on shutdown. The middleware refuses Streamlit's own endpoints
that no setting turns off (starmon/ui/endpoints.py).
"""

import sys
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from starmon import api, selfmetrics, signin
from starmon.config import ConfigError
from starmon.secrets import SecretError
from starmon.service import Service
from starmon.store import StoreError
from starmon.ui.endpoints import RefuseEndpoints

# Built at import, before the server takes requests: a bad config, database or key ends the
# start here with one line and exit status 2. Raised in the lifespan instead, it would come
# out as the ASGI server's traceback.
try:
    service = Service()
except (ConfigError, StoreError, SecretError) as exc:
    print(f"starmon: {exc}", file=sys.stderr)
    sys.exit(2)


@asynccontextmanager
async def lifespan(_app):
    service.start()
    try:
        yield
    finally:
        service.stop()


app = st.App(
    "starmon/ui/main.py",
    lifespan=lifespan,
    middleware=[Middleware(RefuseEndpoints)],
    routes=[
        *signin.routes(service),  # /signin and /signout: local accounts' session cookie
        selfmetrics.route(  # /metrics, for Prometheus; closed as /api is
            service.store,
            service.config.forecast_window_days,
            oidc=lambda: st.secrets.load_if_toml_exists() and "auth" in st.secrets,
        ),
        *api.routes(service, oidc=lambda: st.secrets.load_if_toml_exists() and "auth" in st.secrets),  # /api
    ],
)

if __name__ == "__main__":
    app.run()
