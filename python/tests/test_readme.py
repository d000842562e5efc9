"""The examples of python/README.md, run as they are against the tour
server published by name, as a reader would run them."""

import os
import re
import unittest

from _servers import REPO, tour_server


class ReadmeTest(unittest.TestCase):
    def test_every_python_example_of_the_readme_runs(self):
        with open(os.path.join(REPO, "python", "README.md"), encoding="utf-8") as file:
            blocks = re.findall(r"```python\n(.*?)```", file.read(), re.S)
        self.assertGreaterEqual(len(blocks), 2)
        server = tour_server(name="tour", token="")
        self.addCleanup(server.stop)
        for block in blocks:
            with self.subTest(block=block.splitlines()[0]):
                exec(compile(block, "README.md", "exec"), {"__name__": "readme"})


if __name__ == "__main__":
    unittest.main()
