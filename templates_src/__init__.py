"""Troposphere sources of Cylink's CloudFormation templates: one module per nested stack.

Every module exposes a pure ``build(...) -> Template``; ``templates_src.render`` turns them into
deterministic JSON. Nothing here performs I/O or talks to AWS.
"""

ROOT_FILE = "root.json"  # the root template (children are named by content hash: render.py)
