# frozen_string_literal: true

require "redis"
require "uri"

module Chronoforge
  # Connects to the Redis a URL names: redis:// (and rediss://, unix://) as redis-rb reads them,
  # or redis+cluster://[user:pass@]host1:port1,host2:port2[/0], the worker's Redis Cluster form
  # (SPEC §2), as a ruby-redis 4.x cluster client seeded with those nodes. Also says whether a
  # Redis object talks to a cluster (its pipelines may not span nodes).
  module RedisURL
    CLUSTER_SCHEME = "redis+cluster://"

    module_function

    def connect(url)
      return Redis.new(url: url) unless url.start_with?(CLUSTER_SCHEME)

      opts = parse_cluster(url)
      if Gem::Version.new(Redis::VERSION) >= Gem::Version.new("5")
        raise ArgumentError, "redis+cluster:// URLs need redis-rb 4.x; with redis-rb 5 pass a Redis::Cluster " \
                             "(the redis-clustering gem) as redis:"
      end

      Redis.new(**opts)
    end

    # {cluster: ["redis://host:port", ...], username:, password:} from a redis+cluster:// URL.
    def parse_cluster(url)
      rest = url.delete_prefix(CLUSTER_SCHEME)
      userinfo, _, rest = rest.rpartition("@")
      hosts, slash, path = rest.partition("/")
      if slash == "/" && !["", "0"].include?(path)
        raise ArgumentError, "a Redis Cluster has only database 0, got /#{path} in a redis+cluster:// URL"
      end

      nodes = hosts.split(",").map do |hp|
        host, port = hp.split(":", 2)
        unless !host.to_s.empty? && port.to_s.match?(/\A\d{1,5}\z/)
          raise ArgumentError, "redis+cluster:// wants host:port pairs separated by commas, got #{hp.inspect}"
        end

        "redis://#{host}:#{port}"
      end
      raise ArgumentError, "a redis+cluster:// URL names no node" if nodes.empty?

      opts = { cluster: nodes }
      unless userinfo.empty?
        user, _, pass = userinfo.partition(":")
        opts[:username] = URI.decode_www_form_component(user) unless user.empty?
        opts[:password] = URI.decode_www_form_component(pass) unless pass.empty?
      end
      opts
    end

    # True when redis is a Redis Cluster client (ruby-redis 4.x: a Redis over a Redis::Cluster;
    # 5.x: a Redis::Cluster from redis-clustering).
    def cluster?(redis)
      return false unless defined?(Redis::Cluster)
      return true if redis.is_a?(Redis::Cluster)

      redis.respond_to?(:_client) && redis._client.is_a?(Redis::Cluster)
    end
  end
end
