"""The admin CLI: ``companion run | migrate | clinician | invite | backup | export | audit ...``.

``main`` parses the command line (``parser``) and runs one command; each group of commands
has its module: ``run``, ``admin`` (migrate, clinicians, invites), ``schedules`` (med, tms,
appt, schedule), ``records`` (backup, export, rotate-key, audit), ``reports`` (digest, demo),
``content`` (content status) and ``migrate`` (migrate-to).
"""
