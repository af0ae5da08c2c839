import os
import sys

# The tests import the library straight from the checkout.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
