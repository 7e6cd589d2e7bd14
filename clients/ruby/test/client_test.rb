# frozen_string_literal: true

require_relative "test_helper"

class ClientTest < Minitest::Test
  include RedisTest

  def now_ms
    (Time.now.to_r * 1000).round
  end

  def test_enqueue_pushes_to_the_ready_list_and_registers_the_queue
    jid = @client.enqueue("OrderWorkflow", "order-1", { "order_id" => 1, "queue" => "a kwarg" })
    items = @redis.lrange("#{@prefix}:{default}:ready", 0, -1)
    assert_equal 1, items.size
    env = unpack(items[0])
    assert_equal jid, env["jid"]
    assert_equal({ "order_id" => 1, "queue" => "a kwarg" }, env["kwargs"])
    assert_equal "default", env["queue"]
    assert_equal ["default"], @redis.smembers("#{@prefix}:queues")
  end

  def test_named_queue_goes_to_its_own_list
    @client.enqueue("OrderWorkflow", "order-2", queue: "orders")
    assert_equal 0, @redis.llen("#{@prefix}:{default}:ready")
    assert_equal 1, @redis.llen("#{@prefix}:{orders}:ready")
    assert_equal ["orders"], @redis.smembers("#{@prefix}:queues")
  end

  def test_a_client_from_a_url_with_password
    client = Chronoforge::Client.new(redis: redis_url, prefix: @prefix)
    client.enqueue("OrderWorkflow", "order-3")
    assert_equal 1, @redis.llen("#{@prefix}:{default}:ready")
    client.redis.close
  end

  def test_ready_list_is_fifo_for_a_worker_taking_from_the_right
    jids = Array.new(3) { |i| @client.enqueue("OrderWorkflow", "order-#{i}") }
    taken = Array.new(3) { unpack(@redis.rpop("#{@prefix}:{default}:ready"))["jid"] }
    assert_equal jids, taken
  end

  def test_wait_schedules_the_first_run
    before = now_ms
    jid = @client.enqueue("OrderWorkflow", "order-4", wait: 30)
    after = now_ms
    assert_equal 0, @redis.llen("#{@prefix}:{default}:ready")
    entries = @redis.zrange("#{@prefix}:{default}:scheduled", 0, -1, with_scores: true)
    assert_equal 1, entries.size
    assert_equal jid, unpack(entries[0][0])["jid"]
    assert_operator entries[0][1], :>=, before + 30_000
    assert_operator entries[0][1], :<=, after + 30_000
    assert_equal ["default"], @redis.smembers("#{@prefix}:queues")
  end

  def test_at_schedules_at_that_time
    @client.enqueue("OrderWorkflow", "order-5", at: Time.at(1_900_000_000, 125, :millisecond), queue: "later")
    @client.enqueue("OrderWorkflow", "order-6", at: "2030-01-01T00:00:00Z", queue: "later")
    scores = @redis.zrange("#{@prefix}:{later}:scheduled", 0, -1, with_scores: true).map(&:last)
    assert_equal [1_893_456_000_000.0, 1_900_000_000_125.0], scores
  end

  def test_wait_and_at_together_are_refused
    err = assert_raises(Chronoforge::InvalidJob) { @client.enqueue("OrderWorkflow", "k", wait: 1, at: Time.now) }
    assert_includes err.message, "not both"
  end

  # One pipeline on a single Redis; on a cluster SADD, then one command per queue and kind.
  def test_enqueue_bulk_is_one_round_trip_and_keeps_order
    recording = RecordingRedis.new(@redis)
    client = Chronoforge::Client.new(redis: recording, prefix: @prefix)
    jids = client.enqueue_bulk([
                                 { class: "OrderWorkflow", key: "o-1", kwargs: { "n" => 1 } },
                                 { class: "OrderWorkflow", key: "o-2", queue: "orders" },
                                 { workflow_class: "Billing::Charge", key: "i-1", wait: "10m" },
                                 { class: "OrderWorkflow", key: "o-3" }
                               ])
    assert_equal(cluster? ? %i[sadd lpush lpush zadd] : [:pipelined], recording.calls)
    assert_equal 4, jids.uniq.size
    ready = @redis.lrange("#{@prefix}:{default}:ready", 0, -1).reverse.map { |b| unpack(b)["jid"] }
    assert_equal [jids[0], jids[3]], ready
    assert_equal [jids[1]], @redis.lrange("#{@prefix}:{orders}:ready", 0, -1).map { |b| unpack(b)["jid"] }
    assert_equal [jids[2]], @redis.zrange("#{@prefix}:{default}:scheduled", 0, -1).map { |b| unpack(b)["jid"] }
    assert_equal %w[default orders], @redis.smembers("#{@prefix}:queues").sort
  end

  def test_enqueue_bulk_sends_nothing_when_one_job_is_invalid
    err = assert_raises(Chronoforge::InvalidJob) do
      @client.enqueue_bulk([{ class: "OrderWorkflow", key: "ok" }, { class: "OrderWorkflow", key: "" }])
    end
    assert_equal %w[bad_value key], [err.code, err.field]
    assert_includes err.message, "jobs[1]"
    assert_empty @redis.keys("#{@prefix}:*")
  end

  def test_enqueue_bulk_rejects_unknown_job_keys_and_accepts_nothing
    assert_raises(ArgumentError) { @client.enqueue_bulk([{ class: "OrderWorkflow", key: "k", wiat: 5 }]) }
    recording = RecordingRedis.new(@redis)
    assert_equal [], Chronoforge::Client.new(redis: recording, prefix: @prefix).enqueue_bulk([])
    assert_empty recording.calls
  end

  def test_retry_later_pushes_a_retry_envelope
    jid = @client.retry_later("OrderWorkflow", "order-7", queue: "orders")
    env = unpack(@redis.lrange("#{@prefix}:{orders}:ready", 0, -1).first)
    assert_equal [jid, true, "order-7"], env.values_at("jid", "retry_workflow", "key")
    refute env.key?("kwargs")
  end

  def test_constructor_checks_its_arguments
    assert_raises(ArgumentError) { Chronoforge::Client.new(redis: @redis, prefix: "") }
    assert_raises(ArgumentError) { Chronoforge::Client.new(redis: @redis, prefix: "a{b}") }
    assert_raises(ArgumentError) { Chronoforge::Client.new(redis: @redis, prefix: "p" * 129) }
    assert_raises(ArgumentError) { Chronoforge::Client.new(redis: 42) }
  end
end
