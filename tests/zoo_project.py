"""The small project of a new user that the new-user tests share: a class in `zoo/birds.py` and a cursor
after `pingu.` on a line holding characters outside the BMP."""

BIRDS = '''\
class Penguin:
    """A bird that swims."""

    def __init__(self) -> None:
        self.flipper_span_cm = 20.0

    def waddle_distance(self, steps: int) -> float:
        return steps * 0.1
'''
CURSOR_LINE = '    tag = "🐧é"; return pingu.'
KEEPER = f"from zoo.birds import Penguin\n\n\ndef span(pingu: Penguin) -> float:\n{CURSOR_LINE}\n"
