"""starmon: a light monitoring dashboard for StarRocks clusters.

The library is Streamlit-free except for `starmon.ui`, so the collector can run as a
plain process. The data path reads: fetch -> parse -> aggregate -> store.
"""

__version__ = "0.1.0"
