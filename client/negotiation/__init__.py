"""The negotiation domain, pure: statements, who may read them, the scene fold, the overlap,
timing flags and the TOML forms. No network, no clock, no relay. Formats: docs/negotiation.md.

How the CLI and the demo use it (every name below is importable from its module)::

    # build a statement (constructors validate; StatementError says what is wrong)
    from client.negotiation.statements import (SceneBrief, Participant, SceneRequests, Request,
        BoundarySheet, Rider, RiderAct, PerformerTerms, Acceptance, Counter, Withdrawal,
        FilmedMark, CheckIn, TransgressionReport, Message, SceneClose, parse)
    plaintext, purpose = statement.to_bytes(), statement.PURPOSE   # seal(plaintext, purpose=...)
    statement = parse(opened.context.purpose, opened.plaintext)    # strict; StatementError
    Acceptance(rider.version, rider.hash)                           # rider.hash = SHA-256(bytes)

    # whom to encrypt to: identity keys; map each to its current device keys
    from client.negotiation.audience import audience, visible_to, performer_view
    audience(statement, sender=me, brief=brief) -> frozenset[bytes]

    # the scene: fold the thread's opened envelopes in log order
    from client.negotiation.scene import Event, fold, step, Phase
    Event(sender, role, statement, envelope_hash, log_time, log_index)
    state = fold(events)                # refused statements land in state.refused
    step(state, next_event)             # before sending: raises SceneRuleError(.code)

    # the IC's review and the timing flags (now = Unix seconds, passed in)
    from client.negotiation.overlap import review, review_scene
    review_scene(state, now).to_json()  # for `closedset review --json`
    from client.negotiation.timing import flags
    flags(state, now) -> tuple[Flag, ...]

    # files people edit
    from client.negotiation.forms import (sheet_template, parse_sheet, rider_template,
        amend_template, parse_rider)          # FormError lists "file line N: ..." problems
    from client.negotiation.vocabulary import load   # load() -> Vocabulary v1

A performer's own fold sees only what was encrypted to them (``visible_to``), so their phase
can differ from the IC's: they never see a partner's sheet or withdrawal.
"""
