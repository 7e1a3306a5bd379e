using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Integration.Campaigns.Safety;

/// <summary>
/// Refuses destinations that resolve to loopback, private, link-local, CGNAT, metadata, unspecified or
/// multicast addresses (SSRF), unless the host is on <see cref="CampaignsOptions.AllowedHosts"/>.
/// </summary>
internal interface IUrlGuard
{
    /// <summary>The reason the URL is refused, or null when it may be called.</summary>
    Task<string?> CheckAsync(Uri url, CancellationToken cancellationToken);

    /// <summary>
    /// Connects to an endpoint only on an address that passes the rules, so that DNS answering
    /// differently at connect time (rebinding) cannot reach an internal address.
    /// </summary>
    ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken);
}

/// <summary>Name resolution as the guard sees it: the system's DNS, or a test's resolver whose answers change (rebinding).</summary>
internal interface IHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

internal sealed class DnsHostResolver : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);
}

/// <summary>
/// The one SSRF rule of campaigns, applied twice: when a URL is saved or tested (<see cref="CheckAsync"/>, for a clear
/// answer) and on every outbound connection (<see cref="ConnectAsync"/>, the delivery engine's connect callback, which
/// every send of campaigns goes through: deliveries, retries, replays, bulk and test sends), where it checks the
/// address actually dialled, so a host that resolves differently later (DNS rebinding) reaches nothing internal.
/// </summary>
internal sealed class UrlGuard : IUrlGuard
{
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(3);
    private readonly HashSet<string> _allowed;
    private readonly IHostResolver _resolver;

    public UrlGuard(IOptions<CampaignsOptions> options, IConfiguration configuration, IHostResolver? resolver = null)
    {
        _resolver = resolver ?? new DnsHostResolver();
        var raw = configuration[$"{CampaignsOptions.SectionName}:{nameof(CampaignsOptions.AllowedHosts)}"];
        _allowed = options.Value.AllowedHosts
            .Concat(raw?.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries) ?? [])
            .Select(NormaliseHost)
            .Where(h => h.Length > 0)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
    }

    public bool IsAllowedHost(string host) => _allowed.Contains(NormaliseHost(host));

    public async Task<string?> CheckAsync(Uri url, CancellationToken cancellationToken)
    {
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            return "only absolute http and https URLs are allowed";
        }
        if (IsAllowedHost(url.IdnHost))
        {
            return null;
        }
        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(url.IdnHost, cancellationToken);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return $"{Named(url)} does not resolve";
        }
        if (addresses.Length == 0)
        {
            return $"{Named(url)} does not resolve";
        }
        var blocked = addresses.FirstOrDefault(IsBlocked);
        return blocked is null
            ? null
            : $"{Named(url)} resolves to {blocked}, a loopback, private, link-local or metadata address; add the host to Campaigns:AllowedHosts if it is meant";
    }

    /// <summary>
    /// The URL's scheme and host as the user wrote them (Uri normalises '0x7f.1' to '127.0.0.1', which the user would
    /// not recognise), with the normalised host beside them when it differs; never the user info, path or query,
    /// which may carry credentials.
    /// </summary>
    private static string Named(Uri url)
    {
        var written = url.OriginalString;
        var start = written.IndexOf("://", StringComparison.Ordinal);
        if (start < 0)
        {
            return $"host '{url.Host}'";
        }
        var end = written.IndexOfAny(['/', '?', '#'], start + 3);
        var authority = end < 0 ? written[(start + 3)..] : written[(start + 3)..end];
        authority = authority[(authority.LastIndexOf('@') + 1)..];
        var shown = $"{written[..start]}://{authority}";
        return string.Equals(authority, url.Authority, StringComparison.OrdinalIgnoreCase)
            ? $"URL '{shown}'"
            : $"URL '{shown}' (host '{url.Host}')";
    }

    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = await ResolveAsync(host, cancellationToken);
        if (!IsAllowedHost(host))
        {
            addresses = addresses.Where(a => !IsBlocked(a)).ToArray();
            if (addresses.Length == 0)
            {
                throw new HttpRequestException($"Refused to connect to '{host}': it resolves only to internal addresses.");
            }
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
            // The address the socket is connected to is the one that counts (whatever resolved it).
            if (socket.RemoteEndPoint is IPEndPoint remote && IsBlocked(remote.Address) && !IsAllowedHost(host))
            {
                throw new HttpRequestException($"Refused to connect to '{host}': it reached {remote.Address}, an internal address.");
            }
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            return [literal];
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ResolveTimeout);
        return await _resolver.ResolveAsync(host, timeout.Token);
    }

    /// <summary>Whether an address is one a campaign must never reach.</summary>
    public static bool IsBlocked(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)
            || address.Equals(IPAddress.IPv6None))
        {
            return true;
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 or 10 or 127 => true,
                100 => b[1] is >= 64 and <= 127,            // CGNAT 100.64/10
                169 => b[1] == 254,                          // link-local, incl. 169.254.169.254 metadata
                172 => b[1] is >= 16 and <= 31,
                192 => (b[1] == 168) || (b[1] == 0 && b[2] == 0),
                198 => b[1] is 18 or 19,                     // benchmarking 198.18/15
                >= 224 => true,                              // multicast, reserved, broadcast
                _ => false,
            };
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b = address.GetAddressBytes();
            return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                || (b[0] & 0xFE) == 0xFC                     // unique local fc00::/7, incl. fd00:ec2::254 metadata
                || address.IsIPv6Teredo;
        }
        return true;
    }

    private static string NormaliseHost(string entry)
    {
        var host = entry.Trim();
        if (host.Contains("://", StringComparison.Ordinal) && Uri.TryCreate(host, UriKind.Absolute, out var uri))
        {
            return uri.IdnHost;
        }
        if (host.StartsWith('['))
        {
            var end = host.IndexOf(']');
            return end > 0 ? host[1..end] : host;
        }
        var colon = host.IndexOf(':');
        return colon > 0 && host.IndexOf(':', colon + 1) < 0 ? host[..colon] : host;
    }
}
