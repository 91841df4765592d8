"""starmon's dashboard: `streamlit run app.py`.

This file only launches. Streamlit runs `starmon/ui/main.py` for every browser session;
the lifespan below starts the background Service (demo cluster and collector) once per
server process and stops it on shutdown. The middleware refuses Streamlit's own endpoints
that no setting turns off (starmon/ui/endpoints.py).
"""

from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from starmon.service import Service
from starmon.ui.endpoints import RefuseEndpoints


@asynccontextmanager
async def lifespan(_app):
    service = Service().start()
    try:
        yield
    finally:
        service.stop()


app = st.App("starmon/ui/main.py", lifespan=lifespan, middleware=[Middleware(RefuseEndpoints)])

if __name__ == "__main__":
    app.run()
