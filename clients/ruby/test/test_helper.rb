# frozen_string_literal: true

$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
require "minitest/autorun"
require "securerandom"
require "chronoforge/client"

# Tests that need Redis take it from CF_TEST_REDIS_URL (tests/run.sh --services exports it), each
# under its own key prefix. Without it they skip, or fail when CF_TEST_REQUIRE_SERVICES=1. Under
# tests/run.sh --cluster it is a redis+cluster:// URL and every test runs on the cluster.
module RedisTest
  def redis_url
    url = ENV.fetch("CF_TEST_REDIS_URL", "")
    return url unless url.empty?

    flunk "CF_TEST_REDIS_URL is not set and CF_TEST_REQUIRE_SERVICES=1" if ENV["CF_TEST_REQUIRE_SERVICES"] == "1"
    skip "CF_TEST_REDIS_URL is not set"
  end

  def setup
    @redis = Chronoforge::RedisURL.connect(redis_url)
    @prefix = "cf:test:rb:#{Process.pid}:#{SecureRandom.hex(4)}"
    @client = Chronoforge::Client.new(redis: @redis, prefix: @prefix)
  end

  def teardown
    return unless @redis

    keys = @redis.scan_each(match: "#{@prefix}:*").to_a
    keys.each { |k| @redis.del(k) } # one at a time: on a cluster they hash to different slots
    @redis.close
  end

  def cluster?
    ENV["CF_TEST_REDIS_CLUSTER"] == "1"
  end

  def unpack(bytes)
    MessagePack.unpack(bytes)
  end
end

# Forwards to a Redis object and records which methods the client called on it.
class RecordingRedis
  attr_reader :calls

  def initialize(redis)
    @redis = redis
    @calls = []
  end

  def pipelined(&block)
    @calls << :pipelined
    @redis.pipelined(&block)
  end

  # Not a command: the client asks it whether redis is a cluster.
  def _client
    @redis._client
  end

  def method_missing(name, *args, &block)
    @calls << name
    @redis.public_send(name, *args, &block)
  end

  def respond_to_missing?(name, include_private = false)
    @redis.respond_to?(name, include_private) || super
  end
end
