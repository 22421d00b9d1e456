"""The rules: state machines, preconditions, quotas. Plain functions of (runtime, context, ...)."""
