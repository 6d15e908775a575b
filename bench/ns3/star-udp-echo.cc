/*
 * Star UDP echo in ns-3: the counterpart of scenarios/bench/star-udp-echo.yaml (connection
 * keepAlive) and scenarios/bench/star-udp-echo-new.yaml (connection new), run by
 * bench/compare-ns3.ts side by side with bench/star-udp-echo.ts.
 *
 * Hosts: 100 clients and 10 UdpEchoServers (port 5000). Every client sends a 100-byte datagram
 * every 1 ms from t = 0 for 2 simulated seconds (2,000 per client, 200,000 in all). ns-3 has no
 * ClusterIP/NAT/conntrack, so the load balancing is fixed in the client (see --connection).
 *
 * Topologies (--topology):
 *   nodes (default): the kube-netsim cluster's shape. 10 router nodes stand for the 10 Kubernetes
 *     nodes; each has the 11 hosts that kube-netsim's scheduler places on it (1 echo pod, 10
 *     clients; it spreads evenly) on point-to-point links of `sameNodeLatency` 20 us (kube-netsim's
 *     veths do not serialize, so these links run at 100 Gbps: under 10 ns per 128-byte frame), and
 *     the routers are joined pairwise (45 point-to-point links of `crossNodeLatency` 250 us at 10
 *     Gbps), which is what kube-netsim's fabric is: one hop node -> node, serialized at the sending
 *     NIC. A cross-node request crosses client -> router A -> router B -> server (20 + 250 + 20 =
 *     290 us one way, as pod -> node -> node -> pod in kube-netsim); client i sits on router
 *     i / 10 and server s on router s, so with client i -> server i % 10 one client in ten is on
 *     its server's node, as kube-netsim's random DNAT gives on average. Each router has 20
 *     interfaces (11 host links + 9 fabric links), each kube-netsim node 11 veths + 1 fabric NIC.
 *   star: the first counterpart (kept for comparison): every host on its own point-to-point link to
 *     one router with 110 interfaces, 145 us per link (2 x 145 = 290 us one way), 10 Gbps. ns-3's
 *     IPv4 scans all of a router's interfaces on every received packet to decide whether it is
 *     local, so this topology charges ns-3 about 110 interface checks per forwarded packet.
 *
 * Connections (--connection):
 *   reuse (default): the stock UdpEchoClient, one socket per client for the whole run, client i ->
 *     server i % 10 (kube-netsim keepAlive: one source port, one conntrack entry, one endpoint).
 *   new: NewFlowEchoClient below: every echo opens a new UDP socket (a new ephemeral port), sends
 *     one datagram, closes the socket when the echo arrives; echo k of client i goes to server
 *     (i + k) % 10, so each server still gets 10 requests per ms (kube-netsim `connection: new`: a
 *     new source port per request, so a new conntrack entry and the nat chains walked per echo).
 *     In ns-3 a new flow costs a socket and an endpoint allocation; routers do no per-flow work.
 *
 * All links: Mtu 1500, a 1000-packet DropTail transmit queue (the `queue: 1000` default), no loss.
 * By default no queue disc is left on the devices (kube-netsim's link queue is a plain FIFO);
 * --qdisc=default keeps the one ns-3's Ipv4AddressHelper installs (FqCoDel in 3.37). Routes:
 * Ipv4GlobalRoutingHelper (shortest paths; one /30 per link).
 *
 * Figures: echoes = datagrams received back by the clients; echoesPerWallSecond = echoes / wall
 * seconds of Simulator::Run() (std::chrono::steady_clock); echoesPerCpuSecond = echoes / CPU
 * seconds of the process during Run() (std::clock; less sensitive to a loaded machine); setupSeconds = building the topology,
 * stacks, addresses, routes and applications (not in the Run figure; kube-netsim's
 * bench/star-udp-echo.ts times its world build inside the run, under 1 % here).
 *
 * Usage: star-udp-echo [--topology=nodes|star] [--connection=reuse|new] [--qdisc=none|default]
 *                      [--clients=100] [--servers=10] [--nodes=10]
 * Output: one JSON line on stdout; exit 1 if an echo is missing.
 */
#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/traffic-control-module.h"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

using namespace ns3;

namespace
{
uint64_t g_echoes = 0;
uint64_t g_sent = 0;

void
OnRx(Ptr<const Packet>)
{
    ++g_echoes;
}

void
OnTx(Ptr<const Packet>)
{
    ++g_sent;
}

/**
 * A UDP echo client that opens a new socket (a new ephemeral source port) for every echo and closes
 * it when the echo comes back: a new flow per request, like kube-netsim's `connection: new`.
 * Echo k goes to servers[(first + k) % servers.size()].
 */
class NewFlowEchoClient : public Application
{
  public:
    NewFlowEchoClient(std::vector<Ipv4Address> servers,
                      uint16_t port,
                      uint32_t first,
                      Time interval,
                      uint32_t size)
        : m_servers(std::move(servers)),
          m_port(port),
          m_first(first),
          m_interval(interval),
          m_size(size)
    {
    }

  private:
    void StartApplication() override
    {
        m_next = Simulator::Schedule(Seconds(0), &NewFlowEchoClient::Send, this);
    }

    void StopApplication() override
    {
        Simulator::Cancel(m_next);
    }

    void Send()
    {
        Ptr<Socket> socket = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
        socket->Bind(); // a new ephemeral port
        Ipv4Address server = m_servers[(m_first + m_count) % m_servers.size()];
        socket->Connect(InetSocketAddress(server, m_port));
        socket->SetRecvCallback(MakeCallback(&NewFlowEchoClient::Receive, this));
        socket->Send(Create<Packet>(m_size));
        ++m_count;
        ++g_sent;
        m_next = Simulator::Schedule(m_interval, &NewFlowEchoClient::Send, this);
    }

    void Receive(Ptr<Socket> socket)
    {
        Address from;
        while (Ptr<Packet> packet = socket->RecvFrom(from))
        {
            if (packet->GetSize() > 0)
            {
                ++g_echoes;
            }
        }
        // The echo is back: close the socket (frees its endpoint, as the kernel frees the port).
        socket->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
        socket->Close();
    }

    std::vector<Ipv4Address> m_servers;
    uint16_t m_port;
    uint32_t m_first;
    Time m_interval;
    uint32_t m_size;
    uint32_t m_count = 0;
    EventId m_next;
};
} // namespace

int
main(int argc, char* argv[])
{
    uint32_t clients = 100;
    uint32_t servers = 10;
    uint32_t nodeCount = 10;
    std::string topology = "nodes";
    std::string connection = "reuse";
    std::string qdisc = "none";
    std::string starDelay = "145us";
    std::string podDelay = "20us";
    std::string fabricDelay = "250us";
    std::string podRate = "100Gbps";
    std::string dataRate = "10Gbps";

    CommandLine cmd(__FILE__);
    cmd.AddValue("clients", "client hosts", clients);
    cmd.AddValue("servers", "echo server hosts", servers);
    cmd.AddValue("nodes", "router nodes (topology nodes)", nodeCount);
    cmd.AddValue("topology", "nodes: routers joined pairwise, hosts spread; star: one router", topology);
    cmd.AddValue("connection", "reuse: one socket per client; new: a new socket per echo", connection);
    cmd.AddValue("qdisc", "none: no queue disc on the devices; default: ns-3's default one", qdisc);
    cmd.AddValue("delay", "one-way delay per link (topology star)", starDelay);
    cmd.AddValue("podDelay", "host <-> router delay (topology nodes)", podDelay);
    cmd.AddValue("fabricDelay", "router <-> router delay (topology nodes)", fabricDelay);
    cmd.AddValue("podRate", "host <-> router data rate (topology nodes)", podRate);
    cmd.AddValue("rate", "data rate of the star links and of the fabric links", dataRate);
    cmd.Parse(argc, argv);
    if ((topology != "nodes" && topology != "star") || (connection != "reuse" && connection != "new") ||
        (qdisc != "none" && qdisc != "default") || nodeCount == 0 || servers == 0)
    {
        std::fprintf(stderr, "star-udp-echo: bad --topology, --connection, --qdisc, --nodes or --servers\n");
        return 2;
    }

    auto setupStart = std::chrono::steady_clock::now();

    NodeContainer routers;
    routers.Create(topology == "star" ? 1 : nodeCount);
    NodeContainer clientNodes;
    clientNodes.Create(clients);
    NodeContainer serverNodes;
    serverNodes.Create(servers);

    InternetStackHelper stack;
    stack.Install(routers);
    stack.Install(clientNodes);
    stack.Install(serverNodes);

    auto linkHelper = [](const std::string& rate, const std::string& delay) {
        PointToPointHelper p2p;
        p2p.SetDeviceAttribute("DataRate", StringValue(rate));
        p2p.SetDeviceAttribute("Mtu", UintegerValue(1500));
        p2p.SetChannelAttribute("Delay", StringValue(delay));
        p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", StringValue("1000p"));
        return p2p;
    };
    PointToPointHelper hostLink =
        topology == "star" ? linkHelper(dataRate, starDelay) : linkHelper(podRate, podDelay);
    PointToPointHelper fabricLink = linkHelper(dataRate, fabricDelay);

    Ipv4AddressHelper addresses;
    addresses.SetBase("10.0.0.0", "255.255.255.252"); // one /30 per link
    TrafficControlHelper tch;
    std::vector<Ipv4Address> serverAddress;

    auto connect = [&](PointToPointHelper& helper, Ptr<Node> a, Ptr<Node> b) {
        NetDeviceContainer link = helper.Install(a, b);
        Ipv4InterfaceContainer ifaces = addresses.Assign(link);
        addresses.NewNetwork();
        if (qdisc == "none")
        {
            tch.Uninstall(link);
        }
        return ifaces.GetAddress(0);
    };
    // Host placement as kube-netsim's scheduler spreads them: server s on node s % nodes, clients
    // in blocks of ceil(clients / nodes) per node.
    uint32_t clientsPerNode = (clients + nodeCount - 1) / nodeCount;
    auto routerOf = [&](bool isServer, uint32_t i) {
        if (topology == "star")
        {
            return routers.Get(0);
        }
        return routers.Get(isServer ? i % nodeCount : (i / clientsPerNode) % nodeCount);
    };
    for (uint32_t i = 0; i < clients; i++)
    {
        connect(hostLink, clientNodes.Get(i), routerOf(false, i));
    }
    for (uint32_t i = 0; i < servers; i++)
    {
        serverAddress.push_back(connect(hostLink, serverNodes.Get(i), routerOf(true, i)));
    }
    uint32_t fabricLinks = 0;
    if (topology == "nodes")
    {
        for (uint32_t a = 0; a < nodeCount; a++)
        {
            for (uint32_t b = a + 1; b < nodeCount; b++)
            {
                connect(fabricLink, routers.Get(a), routers.Get(b));
                fabricLinks++;
            }
        }
    }
    Ipv4GlobalRoutingHelper::PopulateRoutingTables();

    const uint16_t port = 5000;
    UdpEchoServerHelper echoServer(port);
    ApplicationContainer serverApps = echoServer.Install(serverNodes);
    serverApps.Start(Seconds(0));

    for (uint32_t i = 0; i < clients; i++)
    {
        Ptr<Application> app;
        if (connection == "reuse")
        {
            UdpEchoClientHelper echoClient(serverAddress[i % servers], port);
            echoClient.SetAttribute("MaxPackets", UintegerValue(4000000000u));
            echoClient.SetAttribute("Interval", TimeValue(MilliSeconds(1)));
            echoClient.SetAttribute("PacketSize", UintegerValue(100));
            app = echoClient.Install(clientNodes.Get(i)).Get(0);
            app->TraceConnectWithoutContext("Rx", MakeCallback(&OnRx));
            app->TraceConnectWithoutContext("Tx", MakeCallback(&OnTx));
        }
        else
        {
            app = CreateObject<NewFlowEchoClient>(serverAddress, port, i, MilliSeconds(1), 100);
            clientNodes.Get(i)->AddApplication(app);
        }
        app->SetStartTime(Seconds(0));
        app->SetStopTime(Seconds(2)); // sends at 0, 1 ms, ..., 1999 ms
    }
    Simulator::Stop(Seconds(5));

    auto runStart = std::chrono::steady_clock::now();
    std::clock_t cpuStart = std::clock();
    Simulator::Run();
    std::clock_t cpuStop = std::clock();
    auto runStop = std::chrono::steady_clock::now();

    double setupSeconds = std::chrono::duration<double>(runStart - setupStart).count();
    double runSeconds = std::chrono::duration<double>(runStop - runStart).count();
    double runCpuSeconds = double(cpuStop - cpuStart) / CLOCKS_PER_SEC;
    uint64_t events = Simulator::GetEventCount();
    int64_t nowNs = Simulator::Now().GetNanoSeconds();
    uint32_t routerInterfaces = routers.Get(0)->GetObject<Ipv4>()->GetNInterfaces();
    Simulator::Destroy();

    std::printf("{\"benchmark\":\"ns3-star-udp-echo\",\"ns3\":\"3.37\",\"topology\":\"%s\","
                "\"connection\":\"%s\",\"clients\":%u,\"servers\":%u,\"routers\":%u,"
                "\"routerInterfaces\":%u,\"fabricLinks\":%u,\"qdisc\":\"%s\",\"sent\":%llu,"
                "\"echoes\":%llu,\"events\":%llu,\"runSeconds\":%.4f,\"runCpuSeconds\":%.4f,"
                "\"setupSeconds\":%.4f,\"echoesPerWallSecond\":%.0f,\"echoesPerCpuSecond\":%.0f,"
                "\"echoesPerWallSecondWithSetup\":%.0f,"
                "\"eventsPerSecond\":%.0f,\"simulatedNs\":%lld}\n",
                topology.c_str(),
                connection.c_str(),
                clients,
                servers,
                routers.GetN(),
                routerInterfaces,
                fabricLinks,
                qdisc.c_str(),
                (unsigned long long)g_sent,
                (unsigned long long)g_echoes,
                (unsigned long long)events,
                runSeconds,
                runCpuSeconds,
                setupSeconds,
                g_echoes / runSeconds,
                g_echoes / runCpuSeconds,
                g_echoes / (runSeconds + setupSeconds),
                events / runSeconds,
                (long long)nowNs);
    return g_echoes == g_sent ? 0 : 1;
}
