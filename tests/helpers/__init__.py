"""What the tests share: the test agents, waiting for a condition, real servers on loopback.

Importable as `helpers` from any test (pytest puts `tests/` on the path for its root
conftest). Nothing here ships: the wheel holds `agio_core` and `agio_cli` only
(tests/test_code_quality.py checks it). The fake OpenAI server is `tests/fake_openai.py`.
"""
