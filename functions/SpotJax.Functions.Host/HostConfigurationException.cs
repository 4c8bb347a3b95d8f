namespace SpotJax.Functions.Host;

/// <summary>The container's environment is wrong: it stops at start-up with this message.</summary>
public sealed class HostConfigurationException(string message) : Exception(message);
