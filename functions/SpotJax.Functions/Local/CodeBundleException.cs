namespace SpotJax.Functions.Local;

/// <summary>A code folder that cannot be packed as it is; the message says what to change.</summary>
public sealed class CodeBundleException(string message) : Exception(message);
