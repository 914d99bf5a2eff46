"""``closedset demo``: the whole negotiation told step by step, by three people running the real
``closedset`` commands against a real relay (an embedded one unless ``--relay`` is given)."""
