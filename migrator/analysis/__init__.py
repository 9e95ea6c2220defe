"""The analyzer's statement families, one module each, behind migrator.analyzer.Analyzer."""
