"""The cognitive engine: five modules behind one interface, two transports.

consolidated (default): all five modules in one process, calling each other in-process.
split (the old shape): one module per process (`aiwfe-cognitive --module NAME`), calling the
others over HTTP at AIWFE_COGNITIVE_<MODULE>_URL. Callers (gateway, worker) use the same
`Transport.call(module, op, payload)` either way.
"""
