"""The API gateway: auth, workflows, forwarding to cognitive-services, static web UI."""
