# frozen_string_literal: true

require_relative "test_helper"

# signal(...) and cancel(...): control requests over Redis (SPEC §2). A worker's answer is
# played by the test, pushing the reply bytes a worker would.
class ControlTest < Minitest::Test
  include RedisTest

  def answer(rid, outcome, code = nil, reason = nil)
    reply = { "v" => 1, "id" => rid, "outcome" => outcome }
    reply.merge!("code" => code, "reason" => reason) if code
    @redis.lpush("#{@prefix}:reply:#{rid}", MessagePack.pack(reply))
  end

  def queued(queue = "default")
    @redis.lrange("#{@prefix}:{#{queue}}:control", 0, -1).map { |b| unpack(b) }
  end

  def test_signal_without_a_worker_is_pending_and_stays_queued
    res = @client.signal("Order", "o-1", "paid", { "amount" => 5 }, id: "sig-1", timeout: 0.05, by: "billing")
    assert res.pending?
    assert_equal "sig-1", res.id
    req = queued.fetch(0)
    assert_kind_of Float, req.delete("sent_at")
    assert_equal({ "v" => 1, "id" => "sig-1", "op" => "signal", "class" => "Order", "key" => "o-1",
                   "reply" => "#{@prefix}:reply:sig-1", "by" => "billing", "name" => "paid",
                   "payload" => '{"amount":5}' }, req)
  end

  def test_signal_accepted_and_refused_answers
    answer("sig-2", "accepted")
    res = @client.signal("Order", "o-2", "paid", id: "sig-2", queue: "orders", timeout: 2)
    assert res.accepted?
    refute queued("orders").fetch(0).key?("payload")
    answer("sig-3", "refused", "finished", "workflow Order/o-3 is completed")
    res = @client.signal("Order", "o-3", "paid", json_text: "[1,2]", id: "sig-3", timeout: 2)
    assert res.refused?
    assert_equal ["finished", "workflow Order/o-3 is completed"], [res.code, res.reason]
    assert_equal 0, @redis.exists("#{@prefix}:reply:sig-3")
  end

  def test_cancel_sends_its_reason
    answer("c-1", "accepted")
    res = @client.cancel("Order", "o-4", reason: "customer asked", id: "c-1", timeout: 2)
    assert res.accepted?
    req = queued.fetch(0)
    assert_equal ["cancel", "customer asked", "o-4"], [req["op"], req["reason"], req["key"]]
  end

  def test_bad_requests_are_refused_before_redis
    client = Chronoforge::Client.new(redis: Object.new.tap { |o| o.define_singleton_method(:pipelined) {} },
                                      prefix: @prefix)
    [
      [{ name: "a$b" }, "bad_value", "name"],
      [{ name: "" }, "bad_value", "name"],
      [{ name: "go", payload: "x" * 70_000 }, "too_large", "payload"],
      [{ name: "go", payload: Float::NAN }, "wrong_type", "payload"],
      [{ name: "go", id: "has space" }, "bad_value", "id"]
    ].each do |args, code, field|
      err = assert_raises(Chronoforge::InvalidJob) do
        client.signal("Order", "o-5", args[:name], args[:payload], id: args[:id])
      end
      assert_equal [code, field], [err.code, err.field], args.inspect
    end
  end
end
