namespace SpotJax.Core.Tests;
