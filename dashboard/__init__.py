"""The Streamlit app: entry and frame (app.py), cached resources (state.py), shared UI and charts."""
