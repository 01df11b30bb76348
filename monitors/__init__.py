"""Monitors: decide when the text just written calls for a language-server fact."""
