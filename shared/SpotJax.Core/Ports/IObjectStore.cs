namespace SpotJax.Core.Ports;

/// <summary>The control bucket (Cloud Storage in production, a folder locally).</summary>
public interface IObjectStore
{
    /// <summary>The bucket name, as in <c>gs://NAME/...</c>.</summary>
    string Bucket { get; }

    /// <summary>Writes an object; a finalize event follows.</summary>
    Task PutAsync(string name, byte[] content, CancellationToken cancellationToken);

    /// <summary>
    /// Writes an object only when no object of that name exists, atomically: of concurrent calls on
    /// one name, exactly one creates it. A finalize event follows a successful create, as after
    /// <see cref="PutAsync"/>.
    /// </summary>
    /// <returns>True when this call created the object; false when one already existed, whatever its content.</returns>
    Task<bool> TryCreateAsync(string name, byte[] content, CancellationToken cancellationToken);

    /// <summary>The object's bytes, or null when it does not exist.</summary>
    Task<byte[]?> GetAsync(string name, CancellationToken cancellationToken);

    /// <summary>Objects whose name starts with <paramref name="prefix"/>, ordered by name.</summary>
    Task<IReadOnlyList<StoredObject>> ListAsync(string prefix, CancellationToken cancellationToken);
}

public sealed record StoredObject(string Name, long Generation, long Size, DateTimeOffset Updated);

/// <summary>A Cloud Storage object-finalize event (Eventarc or a Pub/Sub notification).</summary>
public sealed record StorageObjectEvent(string Bucket, string Name, long Generation, long Size, DateTimeOffset Updated);
