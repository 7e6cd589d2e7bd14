# frozen_string_literal: true

require_relative "test_helper"

# The producer on a Redis Cluster (tests/run.sh --cluster): what a worker relies on (the
# envelope in P:{Q}:ready / scheduled, the queue in P:queues) with the queues set and the
# queues' slots on different masters, and during a slot migration (ASK). Skipped on one Redis.
class ClusterTest < Minitest::Test
  include RedisTest

  def setup
    skip "CF_TEST_REDIS_CLUSTER is not 1 (not a Redis Cluster)" unless cluster?
    super
  end

  def node(port)
    Redis.new(host: "127.0.0.1", port: Integer(port), password: ENV.fetch("CF_TEST_REDIS_PASSWORD"))
  end

  # {port => [node id, slot ranges]} of the masters serving slots.
  def masters
    @redis.call(%w[cluster nodes]).split("\n").map(&:split).each_with_object({}) do |f, acc|
      next unless f[2].include?("master") && !f[2].include?("fail") && f.size > 8

      acc[Integer(f[1][/:(\d+)@/, 1])] = [f[0], f[8..].map { |r| r.split("-").map(&:to_i) }]
    end
  end

  def master_of(key)
    slot = @redis.cluster("keyslot", key)
    masters.find { |_, (_, ranges)| ranges.any? { |lo, hi = lo| slot.between?(lo, hi) } }.first
  end

  # A queue name whose slot is served by a master other than the ones in avoid.
  def queue_on_another_master(*avoid)
    (1..1000).map { |i| "q#{i}" }.find { |q| !avoid.include?(master_of(@client.ready_key(q))) } ||
      flunk("no queue name lands on a master outside #{avoid}")
  end

  def test_a_cluster_url_gives_a_cluster_client
    client = Chronoforge::Client.new(redis: redis_url, prefix: @prefix)
    assert client.cluster?
    refute Chronoforge::Client.new(redis: Redis.new, prefix: @prefix).cluster?
    client.redis.close
  end

  def test_cluster_urls_are_parsed_and_checked
    assert_equal({ cluster: ["redis://h1:7000", "redis://h2:7001"], username: "u", password: "p@ss" },
                 Chronoforge::RedisURL.parse_cluster("redis+cluster://u:p%40ss@h1:7000,h2:7001/0"))
    assert_equal({ cluster: ["redis://h1:7000"] }, Chronoforge::RedisURL.parse_cluster("redis+cluster://h1:7000"))
    assert_raises(ArgumentError) { Chronoforge::RedisURL.parse_cluster("redis+cluster://h1:7000/3") }
    assert_raises(ArgumentError) { Chronoforge::RedisURL.parse_cluster("redis+cluster://h1,h2:7001") }
    assert_raises(ArgumentError) { Chronoforge::RedisURL.parse_cluster("redis+cluster://") }
  end

  # The single-Redis pipeline (SADD P:queues + LPUSH P:{Q}:ready) spans two masters here, which
  # ruby-redis refuses; the client's bulk enqueue into both masters' queues still lands whole.
  def test_enqueue_bulk_into_queues_on_two_other_masters
    home = master_of(@client.queues_key)
    qa = queue_on_another_master(home)
    qb = queue_on_another_master(home, master_of(@client.ready_key(qa)))
    assert_raises(Redis::Cluster::CrossSlotPipeliningError) do
      @redis.pipelined do |pipe|
        pipe.sadd(@client.queues_key, [qa])
        pipe.lpush(@client.ready_key(qa), "x")
      end
    end
    jobs = [{ class: "OrderWorkflow", key: "a-1", queue: qa, kwargs: { "n" => 1 } },
            { class: "OrderWorkflow", key: "b-1", queue: qb },
            { class: "OrderWorkflow", key: "a-2", queue: qa, at: 1_900_000_000 },
            { class: "OrderWorkflow", key: "a-3", queue: qa }]
    jids = @client.enqueue_bulk(jobs)
    bytes = jobs.map do |j|
      @client.build_envelope(j[:class], j[:key], j.fetch(:kwargs, {}), queue: j[:queue])[1]
    end
    ready_a = @redis.lrange(@client.ready_key(qa), 0, -1).reverse
    assert_equal [jids[0], jids[3]], ready_a.map { |b| unpack(b)["jid"] }
    # What build_envelope makes, but for the jid and created_at each call draws.
    fresh = { "jid" => nil, "created_at" => nil }
    assert_equal [bytes[0], bytes[3]].map { |b| unpack(b).merge(fresh) }, ready_a.map { |b| unpack(b).merge(fresh) }
    assert_equal [[jids[2], 1_900_000_000_000.0]],
                 @redis.zrange(@client.scheduled_key(qa), 0, -1, with_scores: true).map { |b, s| [unpack(b)["jid"], s] }
    assert_equal [jids[1]], @redis.lrange(@client.ready_key(qb), 0, -1).map { |b| unpack(b)["jid"] }
    assert_equal [qa, qb].sort, @redis.smembers(@client.queues_key).sort
  end

  # A queue's slot half-moved (MIGRATING on its master, IMPORTING on another, as redis-cli
  # --cluster reshard leaves it between steps): a new ready list is created on the importing
  # node through ASK; after the move (SETSLOT NODE) MOVED sends the next enqueue there too.
  def test_enqueue_while_the_queue_slot_migrates
    queue = "mig-#{SecureRandom.hex(3)}"
    key = @client.ready_key(queue)
    slot = @redis.cluster("keyslot", key)
    src_port = master_of(key)
    dst_port, (dst_id, _) = masters.find { |p, _| p != src_port }
    src_id = masters.fetch(src_port)[0]
    src = node(src_port)
    dst = node(dst_port)
    begin
      dst.cluster("setslot", slot, "importing", src_id)
      src.cluster("setslot", slot, "migrating", dst_id)
      jid1 = @client.enqueue("OrderWorkflow", "m-1", queue: queue)
      assert_equal 0, src.cluster("countkeysinslot", slot), "the list was created on the importing node"
      moved = src.cluster("getkeysinslot", slot, 1000)
      unless moved.empty?
        src.call([:migrate, "127.0.0.1", dst_port, "", 0, 5000, "AUTH", ENV.fetch("CF_TEST_REDIS_PASSWORD"),
                  "KEYS", *moved])
      end
    ensure
      # Finish the move on both nodes (the others learn it from them), so the cluster stays whole.
      [dst, src].each { |n| n.cluster("setslot", slot, "node", dst_id) }
    end
    jid2 = @client.enqueue("OrderWorkflow", "m-2", queue: queue)
    assert_equal [jid1, jid2], @redis.lrange(key, 0, -1).reverse.map { |b| unpack(b)["jid"] }
    assert_equal [key], dst.call([:cluster, "getkeysinslot", slot, 10])
    assert_includes @redis.smembers(@client.queues_key), queue
  ensure
    src&.close
    dst&.close
  end
end
