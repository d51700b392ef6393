"""One APIRouter per group of the gateway's API; app.py includes them in this order."""
