# frozen_string_literal: true

module Chronoforge
  CLIENT_VERSION = "0.1.0"
end
