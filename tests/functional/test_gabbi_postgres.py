"""Every gabbi story, on PostgreSQL (skipped with the reason where no server runs; a failure in CI)."""
import pytest
from gabbi import driver
from gabbi.driver import test_pytest  # noqa: F401 - the function gabbi parametrizes

from tests.functional import fixtures_postgres
from tests.functional.gabbi_harness import GABBITS, intercept

pytestmark = pytest.mark.postgres


def pytest_generate_tests(metafunc):
    driver.py_test_generator(str(GABBITS), intercept=intercept,
                             fixture_module=fixtures_postgres, test_loader_name=__name__, metafunc=metafunc)
