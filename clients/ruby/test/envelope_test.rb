# frozen_string_literal: true

require_relative "test_helper"
require "date"

module Billing
  class Charge; end
end

class EnvelopeTest < Minitest::Test
  E = Chronoforge::Envelope

  def build(kwargs = {}, **opts)
    E.build(opts.delete(:klass) || "OrderWorkflow", opts.delete(:key) || "order-1", kwargs: kwargs, **opts)
  end

  def refusal(code, field, &block)
    err = assert_raises(Chronoforge::InvalidJob, &block)
    assert_equal [code, field], [err.code, err.field], err.message
    assert_kind_of ArgumentError, err
    assert_includes err.message, "[#{code}]"
    err
  end

  def test_envelope_has_the_v1_fields_and_only_them
    before = Time.now.to_f
    jid, bytes = build({ "order_id" => 42 }, queue: "orders", options: { max_duration: "10m" })
    after = Time.now.to_f
    env = MessagePack.unpack(bytes)
    assert_equal %w[v jid class key queue created_at kwargs options], env.keys
    assert_equal 1, env["v"]
    assert_equal jid, env["jid"]
    assert_match(/\A[0-9a-f]{24}\z/, jid)
    assert_equal ["OrderWorkflow", "order-1", { "order_id" => 42 }, "orders", { "max_duration" => "10m" }],
                 env.values_at("class", "key", "kwargs", "queue", "options")
    assert_kind_of Float, env["created_at"]
    assert_operator env["created_at"], :>=, before
    assert_operator env["created_at"], :<=, after
  end

  def test_jids_differ
    jids = Array.new(50) { build[0] }
    assert_equal 50, jids.uniq.size
  end

  def test_every_string_travels_as_msgpack_str_not_bin
    _, bytes = build({ "name" => "héllo", "list" => ["x", :sym], "ascii" => "plain".encode("US-ASCII") })
    walk = lambda do |v|
      case v
      when String then assert_equal Encoding::UTF_8, v.encoding, v.inspect
      when Array then v.each(&walk)
      when Hash then v.each { |k, x| walk.call(k); walk.call(x) }
      end
    end
    walk.call(MessagePack.unpack(bytes))
  end

  def test_symbols_become_strings
    _, bytes = build({ status: :paid, nested: { deep: [:a] } })
    assert_equal({ "status" => "paid", "nested" => { "deep" => ["a"] } }, MessagePack.unpack(bytes)["kwargs"])
  end

  def test_a_symbol_and_a_string_for_the_same_name_are_refused
    refusal("bad_value", "kwargs.a") { build({ :a => 1, "a" => 2 }) }
  end

  def test_class_objects_give_their_name
    _, bytes = E.build(Billing::Charge, "inv-1")
    assert_equal "Billing::Charge", MessagePack.unpack(bytes)["class"]
    refusal("wrong_type", "class") { E.build(Class.new, "k") }
  end

  def test_latin1_strings_are_converted_to_utf8
    _, bytes = build({ "name" => "caf\xE9".dup.force_encoding("ISO-8859-1") })
    assert_equal "café", MessagePack.unpack(bytes)["kwargs"]["name"]
  end

  def test_non_string_hash_keys_are_refused_at_the_hash
    refusal("wrong_type", "kwargs.items[0].?") { build({ "items" => [{ 1 => "x" }] }) }
  end

  def test_time_and_date_are_refused_with_advice
    err = refusal("wrong_type", "kwargs.due") { build({ "due" => Time.now }) }
    assert_includes err.message, "ISO-8601"
    assert_includes err.message, "epoch"
    refusal("wrong_type", "kwargs.day") { build({ "day" => Date.today }) }
  end

  def test_other_objects_are_refused
    refusal("wrong_type", "kwargs.r") { build({ "r" => Rational(1, 3) }) }
    refusal("wrong_type", "kwargs.o") { build({ "o" => Object.new }) }
  end

  def test_paths_name_the_offending_value
    refusal("bad_value", "kwargs.items[2].sku") { build({ "items" => [{}, {}, { "sku" => Float::NAN }] }) }
  end

  def test_maps_nest_fifteen_levels_below_kwargs_and_no_more
    deep = ->(n) { (1..n).reduce(1) { |acc, _| { "a" => acc } } }
    build({ "m" => deep.call(15) })
    refusal("too_deep", "kwargs.m#{'.a' * 15}") { build({ "m" => deep.call(16) }) }
  end

  def test_a_cycle_is_refused_not_a_stack_overflow
    a = []
    a << a
    refusal("too_deep", "kwargs.a#{'[0]' * 15}") { build({ "a" => a }) }
  end

  def test_envelope_size_limit_is_a_setting
    client = Chronoforge::Client.new(redis: Object.new.tap { |o| def o.pipelined; end }, max_envelope_bytes: 200)
    client.build_envelope("OrderWorkflow", "k", { "s" => "x" * 50 })
    refusal("too_large", "") { client.build_envelope("OrderWorkflow", "k", { "s" => "x" * 200 }) }
  end

  def test_kwargs_nil_means_none_and_empty_options_are_left_out
    _, bytes = E.build("OrderWorkflow", "k", kwargs: nil, options: nil)
    env = MessagePack.unpack(bytes)
    assert_equal({}, env["kwargs"])
    refute env.key?("options")
  end

  def test_retry_envelope
    _, bytes = E.build("OrderWorkflow", "k", retry_workflow: true)
    env = MessagePack.unpack(bytes)
    assert_equal true, env["retry_workflow"]
    refute env.key?("kwargs")
  end

  def test_retry_envelope_names_who_and_why
    _, bytes = E.build("OrderWorkflow", "k", retry_workflow: true, requested_by: "ops-dashboard",
                                             reason: "fixed")
    env = MessagePack.unpack(bytes)
    assert_equal "ops-dashboard", env["requested_by"]
    assert_equal "fixed", env["reason"]
    assert_equal %w[v jid class key queue created_at retry_workflow requested_by reason], env.keys
    _, bytes = E.build("OrderWorkflow", "k", retry_workflow: true, reason: "")
    refute MessagePack.unpack(bytes).key?("reason")
    refusal("bad_value", "requested_by") { E.build("OrderWorkflow", "k", retry_workflow: true, requested_by: "") }
    refusal("bad_value", "reason") { E.build("OrderWorkflow", "k", retry_workflow: true, reason: "x" * 1025) }
    refusal("wrong_type", "requested_by") { E.build("OrderWorkflow", "k", retry_workflow: true, requested_by: 7) }
    refusal("bad_value", "requested_by") { E.build("OrderWorkflow", "k", requested_by: "ops") }
  end

  def test_max_duration_forms
    [0, 30, 0.5, "2", "1500ms", "30s", "10m", "2h", "1d", "1.5min"].each do |d|
      _, bytes = build({}, options: { max_duration: d })
      assert_equal d, MessagePack.unpack(bytes)["options"]["max_duration"]
    end
    [-1, -0.5, "0x10", "1 h", "36600d", "-1"].each do |d|
      refusal("bad_value", "options.max_duration") { build({}, options: { max_duration: d }) }
    end
  end

  def test_fields_are_spelled_as_the_worker_spells_them
    err = refusal("bad_value", "kwargs.caf\\xc3\\xa9.x") { build({ "café" => { "x" => Float::INFINITY } }) }
    assert_includes err.message, "kwargs.café.x:"
    refusal("bad_value", "kwargs.a\\x00b") { build({ "a\0b" => 1 }) }
    err = refusal("bad_value", "kwargs.#{'n' * 120}") { build({ "n" * 200 => Float::NAN }) }
    assert_equal 127, err.field.size
  end

  def test_binary_hash_keys_are_not_strings
    refusal("wrong_type", "kwargs.?") { build({ "k".b => 1 }) }
  end

  def test_wait_and_at_parsing
    assert_in_delta 30.0, E.wait_seconds("30s")
    assert_in_delta 1.5, E.wait_seconds("1500ms")
    assert_in_delta 7.0, E.wait_seconds(7)
    assert_in_delta 90.0, E.wait_seconds(Struct.new(:to_f).new(90.0))
    refusal("bad_value", "wait") { E.wait_seconds(-1) }
    refusal("bad_value", "wait") { E.wait_seconds(Float::NAN) }
    refusal("bad_value", "wait") { E.wait_seconds("soon") }
    assert_equal 1_700_000_000_250, E.at_ms(Time.at(1_700_000_000, 250, :millisecond))
    assert_equal 1_700_000_000_500, E.at_ms(1_700_000_000.5)
    assert_equal 1_795_705_200_000, E.at_ms("2026-11-26T15:00:00Z")
    assert_equal 1_795_705_200_000, E.at_ms("2026-11-26T16:00:00+01:00")
    refusal("bad_value", "at") { E.at_ms("tomorrow") }
    refusal("wrong_type", "at") { E.at_ms([]) }
  end
end
