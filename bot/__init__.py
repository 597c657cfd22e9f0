"""The guarantees bot. Importing the package first decides whether the extraction core runs
compiled or from its sources (`bot.native`): before any of its modules can load."""

from bot.native import guard as _guard

_guard()
