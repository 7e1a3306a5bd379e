using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.StackExchangeRedis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Encrypts the secrets the services keep at rest (campaign header values marked secret, Heap segment-sync
/// secrets) with ASP.NET Core Data Protection. Every service shares one key ring in Redis and one application
/// name, so what one service protects another can read (ingestion stores a sync secret, the edge checks it).
/// </summary>
public interface ISecretProtector
{
    /// <summary>The encrypted form of <paramref name="value"/> for <paramref name="purpose"/> (one of <see cref="SecretPurposes"/>).</summary>
    string Protect(string purpose, string value);

    /// <summary>
    /// The plain value of a stored secret. A value without the protected prefix was written before secrets were
    /// encrypted and is returned as it is (the owner re-protects it on its next write).
    /// </summary>
    /// <exception cref="SecretUnreadableException">The key that protected it is not in the key ring (lost, or another ring).</exception>
    string Unprotect(string purpose, string stored);

    /// <summary>Whether <paramref name="stored"/> is in the protected form (rather than a legacy plain value).</summary>
    bool IsProtected(string stored);
}

/// <summary>
/// Purpose strings isolate the secrets of one kind from another: a value protected for one purpose cannot be
/// unprotected for another. Changing a purpose makes every stored secret of that kind unreadable.
/// </summary>
public static class SecretPurposes
{
    /// <summary>Campaign request header values marked secret (campaigns).</summary>
    public const string CampaignHeader = "Integration.Campaigns.SecretHeader.v1";

    /// <summary>Heap segment-sync signing secrets (ingestion writes them, the edge verifies with them).</summary>
    public const string SegmentSync = "Integration.Ingestion.SegmentSyncSecret.v1";
}

/// <summary>A stored secret could not be decrypted: the key ring no longer holds its key.</summary>
public sealed class SecretUnreadableException(string message, Exception inner) : Exception(message, inner);

internal sealed class DataProtectionSecretProtector(IDataProtectionProvider provider) : ISecretProtector
{
    // Marks the protected form so a legacy plain value is told apart without trying to decrypt it.
    private const string Prefix = "dp1:";

    public string Protect(string purpose, string value) => Prefix + provider.CreateProtector(purpose).Protect(value);

    public string Unprotect(string purpose, string stored)
    {
        if (!IsProtected(stored))
        {
            return stored;
        }
        try
        {
            return provider.CreateProtector(purpose).Unprotect(stored[Prefix.Length..]);
        }
        catch (CryptographicException ex)
        {
            // The message never carries the value; the inner exception says which key id was missing.
            throw new SecretUnreadableException(
                $"A stored secret ({purpose}) cannot be decrypted: its key is not in the Data Protection key ring at Redis key '{SecretProtection.KeyRingRedisKey}'. Set the secret again.", ex);
        }
    }

    public bool IsProtected(string stored) => stored.StartsWith(Prefix, StringComparison.Ordinal);
}

/// <summary>Registration of <see cref="ISecretProtector"/>: Data Protection with its key ring in Redis.</summary>
public static class SecretProtection
{
    /// <summary>One application name for every service, so they all read one another's protected values.</summary>
    public const string ApplicationName = "Integration.HeapMoEngage";

    /// <summary>
    /// The Redis list that holds the key ring (one XML element per key; a new key every 90 days, so it stays small).
    /// No hash tag: a single-key list, written only by Data Protection's own single-key commands.
    /// </summary>
    public const string KeyRingRedisKey = "dataprotection:keys";

    /// <summary>Optional PFX whose certificate encrypts the keys in Redis (<c>SecretProtection:CertificatePath</c>).</summary>
    public const string CertificatePathKey = "SecretProtection:CertificatePath";

    /// <summary>Password of that PFX (<c>SecretProtection:CertificatePassword</c>).</summary>
    public const string CertificatePasswordKey = "SecretProtection:CertificatePassword";

    /// <summary>
    /// Adds <see cref="ISecretProtector"/>. Needs the service's <see cref="IConnectionMultiplexer"/> (<c>AddRedisClient</c>).
    /// Without <c>SecretProtection:CertificatePath</c> the keys are stored in Redis unencrypted: secrets are then
    /// protected against a copy of the data keys alone, not against someone who can read the whole of Redis.
    /// </summary>
    public static TBuilder AddSecretProtection<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var dataProtection = builder.Services.AddDataProtection().SetApplicationName(ApplicationName);
        var certificatePath = builder.Configuration[CertificatePathKey];
        if (!string.IsNullOrEmpty(certificatePath))
        {
            dataProtection.ProtectKeysWithCertificate(
                X509CertificateLoader.LoadPkcs12FromFile(certificatePath, builder.Configuration[CertificatePasswordKey]));
        }

        // The repository takes the multiplexer the service already has (AddRedisClient), resolved when the key ring
        // is first needed, rather than a second connection of its own.
        builder.Services.AddOptions<KeyManagementOptions>().Configure<IConnectionMultiplexer>((options, redis) =>
            options.XmlRepository = new RedisXmlRepository(() => redis.GetDatabase(), KeyRingRedisKey));
        builder.Services.TryAddSingleton<ISecretProtector, DataProtectionSecretProtector>();
        return builder;
    }
}
