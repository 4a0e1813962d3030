import pytest

# The shared helpers assert too: rewrite their asserts as pytest does a test module's (before anything imports them).
pytest.register_assert_rewrite("tests.helpers")
